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

  # The MQTT contract (DESIGN §3): agents publish events and state under their own site and
  # subscribe to their own commands; API replicas publish every site's commands, share the
  # events and read every site's retained state.
  api_share_group = "smsgw-api"
  site_acl = {
    for site in var.sites : site => {
      client_id = "agent-${site}"
      publish = [
        "${var.topic_root}/${site}/event/+",
        "${var.topic_root}/${site}/state/+",
      ]
      subscribe = [
        "${var.topic_root}/${site}/command/+",
      ]
    }
  }
  api_acl = {
    client_id_prefix = "api-"
    publish          = ["${var.topic_root}/+/command/+"]
    subscribe = [
      "$share/${local.api_share_group}/${var.topic_root}/+/event/#",
      "${var.topic_root}/+/state/+",
    ]
  }
  acl = {
    topic_root = var.topic_root
    sites      = local.site_acl
    api        = local.api_acl
  }

  # The same rules as a Mosquitto acl_file (agents connect with user name = client id;
  # Mosquitto checks a shared subscription against the filter without its $share prefix).
  mosquitto_acl = join("\n", concat(
    [
      "# smsgw topic ACL for ${local.prefix}, rendered by terraform/modules/naming.",
      "user smsgw-api",
      "topic write ${var.topic_root}/+/command/+",
      "topic read ${var.topic_root}/+/event/#",
      "topic read ${var.topic_root}/+/state/+",
    ],
    flatten([
      for site, rule in local.site_acl : concat(
        ["", "user ${rule.client_id}"],
        [for t in rule.publish : "topic write ${t}"],
        [for t in rule.subscribe : "topic read ${t}"],
      )
    ]),
    [""],
  ))
}
