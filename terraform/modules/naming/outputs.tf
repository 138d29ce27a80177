output "prefix" {
  description = "\"<project>-<environment>\", the stem of every resource name."
  value       = local.prefix
}

output "names" {
  description = "Name of every resource of the deployment, by role (see README)."
  value       = local.names
}

output "tags" {
  description = "Tags for every resource: var.tags plus Project, Environment and ManagedBy."
  value       = local.tags
}

output "subnets" {
  description = "Subnet CIDR blocks by tier (public, private, database), one per availability zone."
  value       = local.subnets
}

output "acl" {
  description = "Per-site topic ACL: for each site its client id, user name and the topics it may publish (retained or not) and subscribe to, plus the API's rule."
  value       = local.acl
}

output "acl_json" {
  description = "The ACL document as JSON, for brokers or tools that load a file."
  value       = jsonencode(local.acl)
}

output "mosquitto_acl" {
  description = "The ACL as a Mosquitto acl_file (agents by pattern, user name = site id; the API as user smsgw-api)."
  value       = local.mosquitto_acl
}
