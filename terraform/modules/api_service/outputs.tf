output "url" {
  description = "Public base URL of the API."
  value       = "https://${var.domain_name}"
}

output "alb_dns_name" {
  description = "DNS name of the load balancer (point domain_name at it when DNS is not in Route 53)."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone of the load balancer, for alias records."
  value       = aws_lb.this.zone_id
}

output "alb_arn_suffix" {
  description = "ARN suffix of the load balancer, for CloudWatch dimensions."
  value       = aws_lb.this.arn_suffix
}

output "certificate_arn" {
  description = "ACM certificate of the HTTPS listener."
  value       = local.certificate
}

output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "tasks_security_group_id" {
  description = "Security group of the API tasks (the broker admits MQTT from it)."
  value       = aws_security_group.tasks.id
}

output "target_group_arn" {
  description = "Target group the tasks register in."
  value       = aws_lb_target_group.this.arn
}

output "log_group_name" {
  description = "CloudWatch Logs group of the API (JSON lines)."
  value       = aws_cloudwatch_log_group.this.name
}

output "database_secret_arn" {
  description = "Secrets Manager secret of the runtime role (JSON: engine, host, port, dbname, username, password, masterarn), rotated every database_rotation_days."
  value       = aws_secretsmanager_secret.database.arn
}

output "database_secret_name" {
  description = "Name of that secret, for aws secretsmanager put-secret-value and rotate-secret."
  value       = aws_secretsmanager_secret.database.name
}

output "database_secret_template" {
  description = "The secret's first value, with an empty password (the role has none until the first rotation gives it one): put it, then rotate (README)."
  value = jsonencode({
    engine    = "postgres"
    host      = var.database.address
    port      = var.database.port
    dbname    = var.database.db_name
    username  = var.runtime_role
    password  = ""
    masterarn = var.database.master_user_secret_arn
  })
}
