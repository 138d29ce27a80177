output "mqtt_url" {
  description = "URL the agents use (their mqtt.url): mqtts://<domain_name>:8883."
  value       = "mqtts://${var.domain_name}:8883"
}

output "internal_mqtt_url" {
  description = "URL the API uses inside the VPC (plain MQTT to the task through Cloud Map DNS)."
  value       = "mqtt://broker.${var.internal_domain}:${local.mqtt_port}"
}

output "nlb_dns_name" {
  description = "DNS name of the Network Load Balancer (point domain_name at it when DNS is not in Route 53)."
  value       = aws_lb.this.dns_name
}

output "nlb_zone_id" {
  description = "Hosted zone of the Network Load Balancer, for alias records."
  value       = aws_lb.this.zone_id
}

output "certificate_arn" {
  description = "ACM certificate of the 8883 listener."
  value       = local.certificate
}

output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "task_security_group_id" {
  description = "Security group of the broker task (Prometheus in the VPC scrapes port 9043 once admitted here)."
  value       = aws_security_group.task.id
}

output "log_group_name" {
  description = "CloudWatch Logs group of the broker (JSON lines)."
  value       = aws_cloudwatch_log_group.this.name
}
