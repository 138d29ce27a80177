output "api_url" {
  description = "Base URL of the HTTP API."
  value       = module.api.url
}

output "mqtt_url" {
  description = "Broker URL to put in every agent's mqtt.url."
  value       = module.broker.mqtt_url
}

output "jwt_secret_name" {
  description = "Secrets Manager secret to fill with SMSGW_JWT_SECRET after the first apply."
  value       = aws_secretsmanager_secret.jwt.name
}

output "key_pepper_secret_name" {
  description = "Secrets Manager secret to fill with SMSGW_KEY_PEPPER after the first apply."
  value       = aws_secretsmanager_secret.key_pepper.name
}

output "database_secret_arn" {
  description = "Secret RDS keeps the database master credentials in."
  value       = module.database.master_user_secret_arn
}

output "api_log_group" {
  description = "CloudWatch Logs group of the API."
  value       = module.api.log_group_name
}

output "broker_log_group" {
  description = "CloudWatch Logs group of the broker."
  value       = module.broker.log_group_name
}

output "topic_acl_json" {
  description = "Per-site topic ACL (JSON) for a broker that enforces one."
  value       = module.naming.acl_json
}

output "mosquitto_acl" {
  description = "The same ACL as a Mosquitto acl_file."
  value       = module.naming.mosquitto_acl
}

output "api_database_secret_name" {
  description = "Secret of the API's runtime database role, rotated by Secrets Manager (put its first value, then rotate: README)."
  value       = module.api.database_secret_name
}

output "api_database_secret_template" {
  description = "First value of that secret, without a password (the first rotation gives the role one)."
  value       = module.api.database_secret_template
}
