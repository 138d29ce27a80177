# smsgw-api on ECS Fargate behind an HTTPS Application Load Balancer. The API is stateless
# (DESIGN §4): any number of tasks, scaled on CPU and request count; the ALB routes only to
# tasks whose /readyz answers (the database is reachable; a broker that is away does not
# take tasks out: they still accept sends, which wait queued). Secrets reach the container from
# Secrets Manager through the execution role, never through Terraform state.

locals {
  container_name = "api"
  container_port = 8080
  create_cert    = var.certificate_arn == null
  certificate    = local.create_cert ? aws_acm_certificate_validation.this[0].certificate_arn : var.certificate_arn
  # As the runtime role (database.tf); the sidecar's file supplies the password (and the
  # user name, which alternates between the role and its clone).
  database_url = "postgres://${var.runtime_role}@${var.database.address}:${var.database.port}/${var.database.db_name}?sslmode=require"

  environment = concat(
    [
      { name = "SMSGW_HTTP_ADDR", value = "0.0.0.0:${local.container_port}" },
      { name = "SMSGW_LOG_FORMAT", value = "json" },
      # The credentials come from SMSGW_DATABASE_PASSWORD_FILE (below).
      { name = "DATABASE_URL", value = local.database_url },
      { name = "SMSGW_MQTT_URL", value = var.mqtt_url },
      # The ALB appends the client's address to X-Forwarded-For: failed logins are
      # counted per client, not per load balancer node.
      { name = "SMSGW_TRUSTED_PROXY_HOPS", value = "1" },
    ],
    var.default_region == null ? [] : [{ name = "SMSGW_DEFAULT_REGION", value = var.default_region }],
    [
      # Kept current by the database-credentials container; read again every second.
      { name = "SMSGW_DATABASE_PASSWORD_FILE", value = local.password_file },
      # The migrate container has migrated; the runtime role could not.
      { name = "SMSGW_NO_MIGRATE", value = "true" },
    ],
  )
  secrets = [
    { name = "SMSGW_KEY_PEPPER", valueFrom = var.key_pepper_secret_arn },
    { name = "SMSGW_JWT_SECRET", valueFrom = var.jwt_secret_arn },
  ]

  log_configuration = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = aws_cloudwatch_log_group.this.name
      awslogs-region        = local.region
      awslogs-stream-prefix = local.container_name
    }
  }
}

# --- TLS certificate ---------------------------------------------------------------------

resource "aws_acm_certificate" "this" {
  count = local.create_cert ? 1 : 0

  domain_name       = var.domain_name
  validation_method = "DNS"
  tags              = var.tags

  lifecycle {
    create_before_destroy = true
    precondition {
      condition     = var.route53_zone_id != null
      error_message = "Without certificate_arn the module validates a new certificate in route53_zone_id, which must be set."
    }
  }
}

resource "aws_route53_record" "validation" {
  for_each = local.create_cert ? {
    for o in aws_acm_certificate.this[0].domain_validation_options : o.domain_name => o
  } : {}

  zone_id         = var.route53_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  count = local.create_cert ? 1 : 0

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

# --- Load balancer -----------------------------------------------------------------------

resource "aws_security_group" "alb" {
  name        = "${var.names.alb}-alb"
  description = "HTTPS to the smsgw API load balancer"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.names.alb}-alb" })
}

#trivy:ignore:AVD-AWS-0107 The API is a public HTTPS endpoint; allowed_cidrs narrows it when it is not.
resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.allowed_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from clients"
  cidr_ipv4         = each.value
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

#trivy:ignore:AVD-AWS-0107 Port 80 only answers with a redirect to HTTPS.
resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  #checkov:skip=CKV_AWS_260:Port 80 is open only to redirect clients to HTTPS (listener "http" below); nothing is served on it.
  for_each = toset(var.allowed_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP from clients, redirected to HTTPS"
  cidr_ipv4         = each.value
  from_port         = 80
  to_port           = 80
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the API tasks"
  referenced_security_group_id = aws_security_group.tasks.id
  from_port                    = local.container_port
  to_port                      = local.container_port
  ip_protocol                  = "tcp"
}

#trivy:ignore:AVD-AWS-0053 The API is meant to be reached from the internet; allowed_cidrs and the optional WAF restrict it.
resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_28:A WAF web ACL is attached when var.waf_web_acl_arn is set; smsgw authenticates every request with an API key and rate-limits it in PostgreSQL.
  #checkov:skip=CKV2_AWS_76:The WAF web ACL is the operator's (var.waf_web_acl_arn); smsgw runs no Java, so the Log4j rule set protects nothing here.
  #checkov:skip=CKV_AWS_91:Access logs go to var.access_logs_bucket when set; the bucket (with its ELB delivery policy) belongs to the account's logging setup, not to this module.
  name                       = var.names.alb
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  idle_timeout               = var.idle_timeout_seconds
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  dynamic "access_logs" {
    for_each = var.access_logs_bucket == null ? [] : [var.access_logs_bucket]
    content {
      bucket  = access_logs.value
      prefix  = var.names.alb
      enabled = true
    }
  }

  tags = var.tags
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.waf_web_acl_arn == null ? 0 : 1

  resource_arn = aws_lb.this.arn
  web_acl_arn  = var.waf_web_acl_arn
}

resource "aws_lb_target_group" "this" {
  name                 = var.names.api_target_group
  vpc_id               = var.vpc_id
  target_type          = "ip"
  protocol             = "HTTP"
  port                 = local.container_port
  deregistration_delay = 30

  # /readyz answers 200 while the database answers, whether or not the broker is connected
  # (api/src/http/health.rs): a broker restart must not take every task out of service,
  # since accepting a send needs PostgreSQL only. The broker link is watched through
  # smsgw_mqtt_connected (alert SmsgwApiBrokerDisconnected) and GET /api/health.
  health_check {
    path                = "/readyz"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = local.certificate

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }

  tags = var.tags
}

# Prometheus metrics are for the VPC (scrape the tasks), not for the internet.
resource "aws_lb_listener_rule" "hide_metrics" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10

  condition {
    path_pattern {
      values = ["/metrics", "/metrics/*"]
    }
  }

  action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      status_code  = "404"
      message_body = "{\"status\":404,\"title\":\"Not Found\"}"
    }
  }

  tags = var.tags
}

resource "aws_route53_record" "api" {
  count = var.route53_zone_id == null ? 0 : 1

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_lb.this.dns_name
    zone_id                = aws_lb.this.zone_id
    evaluate_target_health = true
  }
}

# --- Tasks -------------------------------------------------------------------------------

resource "aws_security_group" "tasks" {
  name        = "${var.names.api_service}-tasks"
  description = "smsgw API tasks"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.names.api_service}-tasks" })
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "HTTP from the load balancer"
  referenced_security_group_id = aws_security_group.alb.id
  from_port                    = local.container_port
  to_port                      = local.container_port
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_database" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "PostgreSQL"
  referenced_security_group_id = var.database.security_group_id
  from_port                    = var.database.port
  to_port                      = var.database.port
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "database_from_tasks" {
  security_group_id            = var.database.security_group_id
  description                  = "PostgreSQL from the smsgw API tasks"
  referenced_security_group_id = aws_security_group.tasks.id
  from_port                    = var.database.port
  to_port                      = var.database.port
  ip_protocol                  = "tcp"
}

#trivy:ignore:AVD-AWS-0104 Tasks pull their image and secrets from ECR and Secrets Manager endpoints on HTTPS through NAT.
resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to AWS APIs (ECR, Secrets Manager, CloudWatch Logs) and webhooks"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "tasks_mqtt" {
  security_group_id = aws_security_group.tasks.id
  description       = "MQTT to the broker inside the VPC"
  cidr_ipv4         = data.aws_vpc.this.cidr_block
  from_port         = 1883
  to_port           = 1883
  ip_protocol       = "tcp"
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

resource "aws_cloudwatch_log_group" "this" {
  name              = var.names.api_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

data "aws_partition" "current" {}

resource "aws_iam_role" "execution" {
  name               = var.names.api_execution_role
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "read_secrets" {
  statement {
    actions = ["secretsmanager:GetSecretValue"]
    resources = [
      var.database.master_user_secret_arn,
      var.key_pepper_secret_arn,
      var.jwt_secret_arn,
    ]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "read_secrets" {
  name   = "read-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.read_secrets.json
}

# The API itself calls no AWS API: the task role only lets the credentials sidecar read the
# runtime role's secret (database.tf).
resource "aws_iam_role" "task" {
  name               = var.names.api_task_role
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = var.tags
}

locals {
  api_container = {
    name                   = local.container_name
    image                  = var.image
    essential              = true
    command                = ["serve"]
    readonlyRootFilesystem = true
    user                   = "10001:10001"
    portMappings = [
      { containerPort = local.container_port, protocol = "tcp" },
    ]
    environment = local.environment
    secrets     = local.secrets
    mountPoints = [
      { sourceVolume = local.secrets_volume, containerPath = local.secrets_dir, readOnly = true },
    ]
    # Serve only on a migrated database, with the credentials file in place.
    dependsOn = [
      { containerName = local.migrate_container.name, condition = "SUCCESS" },
      { containerName = local.credentials_container.name, condition = "HEALTHY" },
    ]
    stopTimeout      = 30
    logConfiguration = local.log_configuration
  }

  container_definitions = [local.api_container, local.migrate_container, local.credentials_container]
  # Each container by name with its environment as a map (what the tests read).
  containers = {
    for c in local.container_definitions : c.name => {
      environment_map        = { for e in c.environment : e.name => e.value }
      command                = try(c.command, [])
      essential              = c.essential
      readonlyRootFilesystem = c.readonlyRootFilesystem
      secrets                = try(c.secrets, [])
      mountPoints            = try(c.mountPoints, [])
      dependsOn              = try(c.dependsOn, [])
    }
  }
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.names.api_service
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  # Shared by the credentials sidecar (writes) and the API (reads); task storage only.
  volume {
    name = local.secrets_volume
  }
  volume {
    name = "credentials-tmp"
  }

  container_definitions = jsonencode(local.container_definitions)

  tags = var.tags
}

resource "aws_ecs_service" "this" {
  name                              = var.names.api_service
  cluster                           = var.cluster_arn
  task_definition                   = aws_ecs_task_definition.this.arn
  launch_type                       = "FARGATE"
  desired_count                     = var.min_capacity
  health_check_grace_period_seconds = 60
  propagate_tags                    = "SERVICE"
  enable_execute_command            = false
  wait_for_steady_state             = false

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = local.container_name
    container_port   = local.container_port
  }

  tags = var.tags

  # Autoscaling owns the task count after creation.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https]
}

# --- Autoscaling -------------------------------------------------------------------------

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  resource_id        = "service/${element(split("/", var.cluster_arn), 1)}/${aws_ecs_service.this.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity
  tags               = var.tags
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.names.api_service}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "requests" {
  name               = "${var.names.api_service}-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.requests_per_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.this.arn_suffix}/${aws_lb_target_group.this.arn_suffix}"
    }
  }
}
