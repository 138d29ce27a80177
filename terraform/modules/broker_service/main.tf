# smsgw-broker (rumqttd with JWT authentication) as ONE Fargate task behind a Network Load
# Balancer. rumqttd keeps sessions and queues in memory and cannot share them, so there is
# exactly one broker: deployments stop the old task before starting the new one, and the
# agents and the API reconnect and re-send what is unconfirmed (DESIGN §2).
#
# Agents reach it on 8883: the NLB terminates TLS with an ACM certificate (agents
# authenticate with a JWT password, not a client certificate, so nothing is lost by not
# passing TLS through) and forwards plain MQTT to the task on 1883. The API, inside the
# VPC, connects to the task directly through Cloud Map DNS.

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  container_name = "broker"
  mqtt_port      = 1883
  metrics_port   = 9043
  create_cert    = var.certificate_arn == null
  certificate    = local.create_cert ? aws_acm_certificate_validation.this[0].certificate_arn : var.certificate_arn
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

# --- Network Load Balancer ---------------------------------------------------------------

resource "aws_security_group" "nlb" {
  name        = "${var.names.nlb}-nlb"
  description = "MQTT over TLS to the smsgw broker load balancer"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.names.nlb}-nlb" })
}

#trivy:ignore:AVD-AWS-0107 Branch agents connect from addresses nobody knows in advance; each presents a site JWT (agent_cidrs narrows it).
resource "aws_vpc_security_group_ingress_rule" "nlb_mqtts" {
  for_each = toset(var.agent_cidrs)

  security_group_id = aws_security_group.nlb.id
  description       = "MQTT over TLS from the agents"
  cidr_ipv4         = each.value
  from_port         = 8883
  to_port           = 8883
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "nlb_to_task" {
  for_each = toset([tostring(local.mqtt_port), tostring(local.metrics_port)])

  security_group_id            = aws_security_group.nlb.id
  description                  = "To the broker task (MQTT and health check)"
  referenced_security_group_id = aws_security_group.task.id
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
  ip_protocol                  = "tcp"
}

#trivy:ignore:AVD-AWS-0053 The agents at the branches reach the broker over the internet.
resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:Access logs (TLS listener only) go to var.access_logs_bucket when set; the bucket belongs to the account's logging setup.
  name                             = var.names.nlb
  load_balancer_type               = "network"
  internal                         = false
  subnets                          = var.public_subnet_ids
  security_groups                  = [aws_security_group.nlb.id]
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = var.deletion_protection

  dynamic "access_logs" {
    for_each = var.access_logs_bucket == null ? [] : [var.access_logs_bucket]
    content {
      bucket  = access_logs.value
      prefix  = var.names.nlb
      enabled = true
    }
  }

  tags = var.tags
}

resource "aws_lb_target_group" "this" {
  name                 = var.names.broker_target_group
  vpc_id               = var.vpc_id
  target_type          = "ip"
  protocol             = "TCP"
  port                 = local.mqtt_port
  deregistration_delay = 30
  # A replaced task must not keep connections: agents reconnect to the new one at once.
  connection_termination = true

  # smsgw-broker answers GET /healthz on its metrics listener while it runs.
  health_check {
    protocol            = "HTTP"
    port                = tostring(local.metrics_port)
    path                = "/healthz"
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = var.tags
}

# The idle timeout of a TLS listener is fixed at 350 s (it cannot be changed, unlike a TCP
# listener's); var.mqtt_keep_alive_seconds is validated to stay below it.
resource "aws_lb_listener" "mqtts" {
  load_balancer_arn = aws_lb.this.arn
  port              = 8883
  protocol          = "TLS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = local.certificate

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}

resource "aws_route53_record" "mqtt" {
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

# --- Discovery inside the VPC ------------------------------------------------------------

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = var.internal_domain
  description = "smsgw services inside the VPC"
  vpc         = var.vpc_id
  tags        = var.tags
}

resource "aws_service_discovery_service" "broker" {
  name = "broker"

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  tags = var.tags
}

# --- Task --------------------------------------------------------------------------------

resource "aws_security_group" "task" {
  name        = "${var.names.broker_service}-task"
  description = "smsgw broker task"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.names.broker_service}-task" })
}

resource "aws_vpc_security_group_ingress_rule" "task_from_nlb" {
  for_each = toset([tostring(local.mqtt_port), tostring(local.metrics_port)])

  security_group_id            = aws_security_group.task.id
  description                  = "From the load balancer (MQTT and health check)"
  referenced_security_group_id = aws_security_group.nlb.id
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "task_from_api" {
  security_group_id            = aws_security_group.task.id
  description                  = "MQTT from the API tasks"
  referenced_security_group_id = var.api_security_group_id
  from_port                    = local.mqtt_port
  to_port                      = local.mqtt_port
  ip_protocol                  = "tcp"
}

#trivy:ignore:AVD-AWS-0104 The task pulls its image and secret from ECR and Secrets Manager endpoints on HTTPS through NAT.
resource "aws_vpc_security_group_egress_rule" "task_https" {
  security_group_id = aws_security_group.task.id
  description       = "HTTPS to AWS APIs (ECR, Secrets Manager, CloudWatch Logs)"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_cloudwatch_log_group" "this" {
  name              = var.names.broker_log_group
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

resource "aws_iam_role" "execution" {
  name               = var.names.broker_execution_role
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "read_secret" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.jwt_secret_arn]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "read_secret" {
  name   = "read-jwt-secret"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.read_secret.json
}

# The broker calls no AWS API: its task role has no permissions.
resource "aws_iam_role" "task" {
  name               = var.names.broker_task_role
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = var.tags
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.names.broker_service
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

  container_definitions = jsonencode([
    {
      name  = local.container_name
      image = var.image
      # The image carries /etc/smsgw/broker.toml: plain MQTT on 0.0.0.0:1883 and metrics
      # on 0.0.0.0:9043, both reachable only through the security groups above.
      command                = ["run", "--config", "/etc/smsgw/broker.toml"]
      essential              = true
      readonlyRootFilesystem = true
      user                   = "10001:10001"
      portMappings = [
        { containerPort = local.mqtt_port, protocol = "tcp" },
        { containerPort = local.metrics_port, protocol = "tcp" },
      ]
      environment = [
        { name = "SMSGW_LOG_FORMAT", value = "json" },
      ]
      secrets = [
        { name = "SMSGW_JWT_SECRET", valueFrom = var.jwt_secret_arn },
      ]
      ulimits = [
        { name = "nofile", softLimit = 65536, hardLimit = 65536 },
      ]
      stopTimeout = 30
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = data.aws_region.current.region
          awslogs-stream-prefix = local.container_name
        }
      }
    }
  ])

  tags = var.tags
}

resource "aws_ecs_service" "this" {
  name                              = var.names.broker_service
  cluster                           = var.cluster_arn
  task_definition                   = aws_ecs_task_definition.this.arn
  launch_type                       = "FARGATE"
  desired_count                     = 1
  health_check_grace_period_seconds = 30
  propagate_tags                    = "SERVICE"
  enable_execute_command            = false

  # Never two brokers at once: each would hold part of the clients and none would see the
  # other's messages.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.task.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = local.container_name
    container_port   = local.mqtt_port
  }

  service_registries {
    registry_arn = aws_service_discovery_service.broker.arn
  }

  tags = var.tags

  depends_on = [aws_lb_listener.mqtts]
}
