# Names, tags, the subnet plan and the per-site MQTT topic ACL of one smsgw deployment.
# Pure expressions, no provider: every rule here is checked offline by tests/*.tftest.hcl,
# and the provider-bound modules only consume the results.

locals {
  prefix = "${var.project}-${var.environment}"

  # AWS limits that the variable validations keep us under (project ≤ 12, environment
  # ≤ 10 ⇒ prefix ≤ 23): load balancer and target group names ≤ 32, RDS identifiers ≤ 63,
  # IAM role names ≤ 64.
  names = {
    vpc                   = local.prefix
    ecs_cluster           = local.prefix
    api_service           = "${local.prefix}-api"
    broker_service        = "${local.prefix}-broker"
    alb                   = "${local.prefix}-api"
    api_target_group      = "${local.prefix}-api"
    nlb                   = "${local.prefix}-mqtt"
    broker_target_group   = "${local.prefix}-mqtt"
    db_instance           = "${local.prefix}-pg"
    db_subnet_group       = "${local.prefix}-pg"
    db_parameter_group    = "${local.prefix}-pg"
    db_name               = var.project
    db_username           = "${var.project}_admin"
    api_log_group         = "/${var.project}/${var.environment}/api"
    broker_log_group      = "/${var.project}/${var.environment}/broker"
    flow_log_group        = "/${var.project}/${var.environment}/vpc-flow-logs"
    jwt_secret            = "${var.project}/${var.environment}/jwt-secret"
    key_pepper_secret     = "${var.project}/${var.environment}/key-pepper"
    api_task_role         = "${local.prefix}-api-task"
    api_execution_role    = "${local.prefix}-api-exec"
    broker_task_role      = "${local.prefix}-broker-task"
    broker_execution_role = "${local.prefix}-broker-exec"
    rds_monitoring_role   = "${local.prefix}-rds-monitoring"
    flow_log_role         = "${local.prefix}-flow-logs"
    kms_alias             = "alias/${local.prefix}"
  }

  # Fixed tags come last so that var.tags cannot relabel a resource's project or owner.
  tags = merge(var.tags, {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
  })

  # Subnet plan: the VPC is cut into 16 equal blocks; public subnets take blocks 0–2,
  # private (ECS tasks) 4–6 and database 8–10, so adding a zone later never renumbers.
  subnet_newbits = 4
  subnets = {
    public   = [for i in range(var.az_count) : cidrsubnet(var.vpc_cidr, local.subnet_newbits, i)]
    private  = [for i in range(var.az_count) : cidrsubnet(var.vpc_cidr, local.subnet_newbits, 4 + i)]
    database = [for i in range(var.az_count) : cidrsubnet(var.vpc_cidr, local.subnet_newbits, 8 + i)]
  }

  # The topic rules of smsgw (the table in shared/src/acl of the smsgw repository, which
  # smsgw-broker enforces): an agent publishes its own events and state and reads its own
  # commands; API replicas publish every site's commands and the revocation list, read the
  # events (in their shared group) and the retained state. Agents log in to a broker with an
  # ACL file with their site id as user name, API replicas as smsgw-api.
  api_share_group = "smsgw-api"
  api_username    = "smsgw-api"
  agent_publish   = ["event/status", "event/inbound", "state/conn", "state/modems"]
  agent_retained  = ["state/conn", "state/modems"]
  site_acl = {
    for site in var.sites : site => {
      client_id = "agent-${site}"
      username  = site
      publish   = [for kind in local.agent_publish : "${var.topic_root}/${site}/${kind}"]
      retained  = [for kind in local.agent_retained : "${var.topic_root}/${site}/${kind}"]
      subscribe = ["${var.topic_root}/${site}/command/+"]
    }
  }
  api_acl = {
    client_id_prefix = "api-"
    username         = local.api_username
    publish = [
      "${var.topic_root}/+/command/+",
      "${var.topic_root}/_broker/revocations",
    ]
    retained = ["${var.topic_root}/_broker/revocations"]
    subscribe = [
      "$share/${local.api_share_group}/${var.topic_root}/+/event/#",
      "${var.topic_root}/+/event/#",
      "${var.topic_root}/+/state/+",
    ]
  }
  acl = {
    topic_root = var.topic_root
    sites      = local.site_acl
    api        = local.api_acl
  }

  # The same rules as a Mosquitto acl_file: apart from comments, the lines
  # `smsgw-api mqtt-acl --format mosquitto --root <topic_root>` prints (deploy/check.sh
  # compares them): `pattern` lines with %u = the agent's user name = its site id, and the
  # API's user block. Every site is covered without a list.
  mosquitto_acl = join("\n", concat(
    [
      "# smsgw topic rules for Mosquitto, topic root \"${var.topic_root}\", rendered by terraform/modules/naming.",
      "# The same rules as `smsgw-api mqtt-acl --format mosquitto --root ${var.topic_root}`.",
      "# Branch agents log in with their site id as user name: %u is the site.",
    ],
    [for kind in local.agent_publish : "pattern write ${var.topic_root}/%u/${kind}"],
    [
      "pattern read ${var.topic_root}/%u/command/+",
      "",
      "# API replicas log in as ${local.api_username} (SMSGW_MQTT_USERNAME).",
      "user ${local.api_username}",
      "topic write ${var.topic_root}/+/command/+",
      "topic write ${var.topic_root}/_broker/revocations",
      "topic read ${var.topic_root}/+/event/#",
      "topic read ${var.topic_root}/+/state/+",
      "",
    ],
  ))
}
