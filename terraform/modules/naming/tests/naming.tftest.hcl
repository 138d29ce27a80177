# Offline tests of the naming module: `terraform test` in modules/naming (no provider).

variables {
  environment = "prod"
  sites       = ["lyon", "paris01"]
}

run "names_follow_the_prefix" {
  command = plan

  assert {
    condition     = output.prefix == "smsgw-prod"
    error_message = "The prefix is <project>-<environment>."
  }
  assert {
    condition     = output.names.alb == "smsgw-prod-api" && output.names.nlb == "smsgw-prod-mqtt"
    error_message = "Load balancers are named after the service they front."
  }
  assert {
    condition     = output.names.db_instance == "smsgw-prod-pg" && output.names.db_name == "smsgw"
    error_message = "The database instance and database are named after the project."
  }
  assert {
    condition     = output.names.jwt_secret == "smsgw/prod/jwt-secret" && output.names.api_log_group == "/smsgw/prod/api"
    error_message = "Secrets and log groups use a path per project and environment."
  }
}

run "longest_names_fit_aws_limits" {
  command = plan

  variables {
    project     = "abcdefghijkl"
    environment = "abcdefghij"
  }

  assert {
    condition = alltrue([
      for k in ["alb", "nlb", "api_target_group", "broker_target_group"] : length(output.names[k]) <= 32
    ])
    error_message = "Load balancer and target group names must stay within 32 characters."
  }
  assert {
    condition     = alltrue([for k, v in output.names : length(v) <= 63])
    error_message = "Every name must stay within 63 characters (RDS identifiers, IAM role names)."
  }
  assert {
    condition     = alltrue([for k in ["alb", "nlb", "db_instance"] : can(regex("^[a-z][a-z0-9-]*[a-z0-9]$", output.names[k]))])
    error_message = "Load balancer and RDS names start with a letter, use a-z, 0-9 and hyphens and do not end with a hyphen."
  }
}

run "fixed_tags_win_over_extra_tags" {
  command = plan

  variables {
    tags = { Project = "other", Owner = "ops", CostCenter = "42" }
  }

  assert {
    condition     = output.tags.Project == "smsgw" && output.tags.Environment == "prod" && output.tags.ManagedBy == "terraform"
    error_message = "Project, Environment and ManagedBy cannot be overridden."
  }
  assert {
    condition     = output.tags.Owner == "ops" && output.tags.CostCenter == "42"
    error_message = "Extra tags are kept."
  }
}

run "subnets_do_not_overlap" {
  command = plan

  variables {
    vpc_cidr = "10.40.0.0/16"
    az_count = 3
  }

  assert {
    condition     = output.subnets.public == ["10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20"]
    error_message = "Public subnets take the first blocks."
  }
  assert {
    condition     = output.subnets.private == ["10.40.64.0/20", "10.40.80.0/20", "10.40.96.0/20"]
    error_message = "Private subnets start at block 4."
  }
  assert {
    condition     = output.subnets.database == ["10.40.128.0/20", "10.40.144.0/20", "10.40.160.0/20"]
    error_message = "Database subnets start at block 8."
  }
  assert {
    condition     = length(distinct(concat(output.subnets.public, output.subnets.private, output.subnets.database))) == 9
    error_message = "No subnet appears twice."
  }
}

run "small_vpc_gets_small_subnets" {
  command = plan

  variables {
    vpc_cidr = "192.168.16.0/20"
  }

  assert {
    condition     = output.subnets.private == ["192.168.20.0/24", "192.168.21.0/24"]
    error_message = "A /20 VPC is cut into /24 subnets."
  }
}

run "acl_confines_each_agent_to_its_site" {
  command = plan

  assert {
    condition     = output.acl.sites["lyon"].client_id == "agent-lyon" && output.acl.sites["lyon"].username == "lyon"
    error_message = "An agent's client id is agent-<site> (the broker binds its token to it); its user name is the site id."
  }
  assert {
    condition = output.acl.sites["lyon"].publish == [
      "smsgw/lyon/event/status", "smsgw/lyon/event/inbound", "smsgw/lyon/state/conn", "smsgw/lyon/state/modems",
    ]
    error_message = "An agent publishes its own events and state, and nothing else."
  }
  assert {
    condition     = output.acl.sites["lyon"].retained == ["smsgw/lyon/state/conn", "smsgw/lyon/state/modems"]
    error_message = "Only state is retained, never events."
  }
  assert {
    condition     = output.acl.sites["paris01"].subscribe == ["smsgw/paris01/command/+"]
    error_message = "An agent subscribes to its own commands only."
  }
  assert {
    condition = alltrue(flatten([
      for site, rule in output.acl.sites : [
        for t in concat(rule.publish, rule.subscribe) : startswith(t, "smsgw/${site}/")
      ]
    ]))
    error_message = "No agent rule reaches outside its own site."
  }
  assert {
    condition     = output.acl.api.subscribe[0] == "$share/smsgw-api/smsgw/+/event/#" && output.acl.api.username == "smsgw-api"
    error_message = "API replicas (user smsgw-api) share the events (DESIGN §3)."
  }
  assert {
    condition     = contains(output.acl.api.publish, "smsgw/_broker/revocations") && !contains(output.acl.api.publish, "smsgw/+/state/conn")
    error_message = "The API publishes the revocation list and never an agent's presence."
  }
  assert {
    condition     = jsondecode(output.acl_json).sites["lyon"].publish[0] == "smsgw/lyon/event/status"
    error_message = "The JSON document carries the same rules."
  }
}

run "mosquitto_acl_names_sites_by_user_name" {
  command = plan

  variables {
    topic_root = "acme/prod/smsgw"
  }

  assert {
    condition     = strcontains(output.mosquitto_acl, "pattern write acme/prod/smsgw/%u/event/status\npattern write acme/prod/smsgw/%u/event/inbound\npattern write acme/prod/smsgw/%u/state/conn\npattern write acme/prod/smsgw/%u/state/modems\npattern read acme/prod/smsgw/%u/command/+\n")
    error_message = "Agents get pattern rules: %u, their user name, is their site."
  }
  assert {
    condition     = strcontains(output.mosquitto_acl, "user smsgw-api\ntopic write acme/prod/smsgw/+/command/+\ntopic write acme/prod/smsgw/_broker/revocations\ntopic read acme/prod/smsgw/+/event/#\ntopic read acme/prod/smsgw/+/state/+\n")
    error_message = "The API user (smsgw-api, the API's default user name) commands every site and reads events and state."
  }
  assert {
    condition     = length(regexall("(?m)^user ", output.mosquitto_acl)) == 1 && !strcontains(output.mosquitto_acl, "user agent-")
    error_message = "One user block, the API's: agents are covered by the patterns."
  }
}

run "no_sites_still_covers_every_agent_in_mosquitto" {
  command = plan

  variables {
    sites = []
  }

  assert {
    condition     = length(output.acl.sites) == 0 && strcontains(output.mosquitto_acl, "pattern read smsgw/%u/command/+")
    error_message = "Without sites the JSON document has no site, and the Mosquitto patterns still cover every agent."
  }
}

run "rejects_a_bad_site_id" {
  command = plan

  variables {
    sites = ["Lyon-1"]
  }

  expect_failures = [var.sites]
}

run "rejects_duplicate_sites" {
  command = plan

  variables {
    sites = ["lyon", "lyon"]
  }

  expect_failures = [var.sites]
}

run "rejects_a_wildcard_topic_root" {
  command = plan

  variables {
    topic_root = "smsgw/#"
  }

  expect_failures = [var.topic_root]
}

run "rejects_a_long_environment" {
  command = plan

  variables {
    environment = "production-eu"
  }

  expect_failures = [var.environment]
}

run "rejects_an_aws_tag_prefix" {
  command = plan

  variables {
    tags = { "aws:createdBy" = "me" }
  }

  expect_failures = [var.tags]
}

run "rejects_a_tiny_vpc" {
  command = plan

  variables {
    vpc_cidr = "10.0.0.0/24"
  }

  expect_failures = [var.vpc_cidr]
}
