variable "names" {
  description = "Resource names from the naming module (keys used: api_service, alb, api_target_group, api_log_group, api_task_role, api_execution_role)."
  type        = map(string)
  nullable    = false

  validation {
    condition     = alltrue([for k in ["api_service", "alb", "api_target_group", "api_log_group", "api_task_role", "api_execution_role"] : contains(keys(var.names), k)])
    error_message = "names must come from the naming module (api_service, alb, api_target_group, api_log_group, api_task_role, api_execution_role)."
  }

  validation {
    condition     = length(lookup(var.names, "alb", "")) <= 32 && length(lookup(var.names, "api_target_group", "")) <= 32
    error_message = "Load balancer and target group names are limited to 32 characters."
  }
}

variable "cluster_arn" {
  description = "ECS cluster the service runs in."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN."
  }
}

variable "vpc_id" {
  description = "VPC of the service."
  type        = string
  nullable    = false

  validation {
    condition     = startswith(var.vpc_id, "vpc-")
    error_message = "vpc_id must be a VPC id (vpc-…)."
  }
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer (at least two zones)."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An Application Load Balancer needs subnets in at least two availability zones."
  }
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks (no public address; outbound through NAT)."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.private_subnet_ids) >= 1
    error_message = "At least one private subnet is needed."
  }
}

variable "image" {
  description = "Container image of smsgw-api (built from deploy/docker/api.Dockerfile), preferably pinned by digest."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.image) > 0 && !endswith(var.image, ":latest")
    error_message = "image must be set and pinned to a tag or digest other than :latest."
  }
}

variable "cpu" {
  description = "Fargate CPU units per task."
  type        = number
  default     = 512
  nullable    = false

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.cpu)
    error_message = "cpu must be 256, 512, 1024, 2048 or 4096."
  }
}

variable "memory" {
  description = "Fargate memory per task in MiB (must fit the CPU size: 512–2048 for 256 units, 1024–4096 for 512, …)."
  type        = number
  default     = 1024
  nullable    = false

  validation {
    condition     = var.memory >= 512 && var.memory <= 30720
    error_message = "memory must be between 512 and 30720 MiB."
  }
}

variable "min_capacity" {
  description = "Fewest tasks; two or more keep the API up through a zone failure or a deployment."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.min_capacity >= 1
    error_message = "min_capacity must be at least 1."
  }
}

variable "max_capacity" {
  description = "Most tasks autoscaling may run."
  type        = number
  default     = 6
  nullable    = false

  validation {
    condition     = var.max_capacity >= var.min_capacity
    error_message = "max_capacity must be at least min_capacity."
  }
}

variable "cpu_target_percent" {
  description = "Average CPU utilisation the service scales to hold."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.cpu_target_percent >= 10 && var.cpu_target_percent <= 90
    error_message = "cpu_target_percent must be between 10 and 90."
  }
}

variable "requests_per_target" {
  description = "ALB requests per task per minute the service scales to hold."
  type        = number
  default     = 3000
  nullable    = false

  validation {
    condition     = var.requests_per_target >= 10
    error_message = "requests_per_target must be at least 10."
  }
}

variable "domain_name" {
  description = "Public host name of the API, e.g. sms.example.com."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lower-case DNS name."
  }
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone of domain_name: the module validates the ACM certificate and points the name at the ALB. Null when DNS lives elsewhere (then set certificate_arn)."
  type        = string
  default     = null

  validation {
    condition     = var.route53_zone_id == null || can(regex("^Z[A-Z0-9]{1,31}$", var.route53_zone_id))
    error_message = "route53_zone_id must be a hosted zone id (Z…)."
  }
}

variable "certificate_arn" {
  description = "An issued ACM certificate for domain_name; when null the module requests one and validates it in route53_zone_id."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener (TLS 1.3 with TLS 1.2 fallback by default)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  nullable    = false

  validation {
    condition     = startswith(var.ssl_policy, "ELBSecurityPolicy-TLS13-") || startswith(var.ssl_policy, "ELBSecurityPolicy-FS-1-2-")
    error_message = "ssl_policy must be a TLS 1.2+ policy (ELBSecurityPolicy-TLS13-… or ELBSecurityPolicy-FS-1-2-…)."
  }
}

variable "allowed_cidrs" {
  description = "Client networks allowed to reach the load balancer (the API is public by default; narrow it for a private deployment)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
  nullable    = false

  validation {
    condition     = length(var.allowed_cidrs) > 0 && alltrue([for c in var.allowed_cidrs : can(cidrhost(c, 0))])
    error_message = "allowed_cidrs must be a non-empty list of IPv4 CIDR blocks."
  }
}

variable "idle_timeout_seconds" {
  description = "ALB idle timeout: how long a request (or an event stream) may stay silent."
  type        = number
  default     = 120
  nullable    = false

  validation {
    condition     = var.idle_timeout_seconds >= 1 && var.idle_timeout_seconds <= 4000
    error_message = "idle_timeout_seconds must be between 1 and 4000."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer until this is turned off."
  type        = bool
  default     = true
  nullable    = false
}

variable "access_logs_bucket" {
  description = "S3 bucket for ALB access logs (its policy must allow the ELB log delivery service); null leaves them off."
  type        = string
  default     = null

  validation {
    condition     = var.access_logs_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_logs_bucket))
    error_message = "access_logs_bucket must be an S3 bucket name."
  }
}

variable "waf_web_acl_arn" {
  description = "WAFv2 web ACL (regional) to associate with the load balancer; null for none."
  type        = string
  default     = null

  validation {
    condition     = var.waf_web_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:", var.waf_web_acl_arn))
    error_message = "waf_web_acl_arn must be a WAFv2 web ACL ARN."
  }
}

variable "database" {
  description = "Where the database is (outputs of the database module): address, port, db_name, username, master_user_secret_arn, security_group_id."
  type = object({
    address                = string
    port                   = number
    db_name                = string
    username               = string
    master_user_secret_arn = string
    security_group_id      = string
  })
  nullable = false

  validation {
    condition = alltrue([
      length(var.database.address) > 0,
      var.database.port > 0 && var.database.port < 65536,
      can(regex("^arn:aws[a-z-]*:secretsmanager:", var.database.master_user_secret_arn)),
      startswith(var.database.security_group_id, "sg-"),
    ])
    error_message = "database needs an address, a port, the master user secret ARN and a security group id (outputs of the database module)."
  }
}

variable "key_pepper_secret_arn" {
  description = "Secrets Manager secret holding SMSGW_KEY_PEPPER (plain string, at least 32 random bytes, e.g. openssl rand -hex 32)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.key_pepper_secret_arn))
    error_message = "key_pepper_secret_arn must be a Secrets Manager ARN."
  }
}

variable "jwt_secret_arn" {
  description = "Secrets Manager secret holding SMSGW_JWT_SECRET, the HS256 key shared with the broker."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.jwt_secret_arn))
    error_message = "jwt_secret_arn must be a Secrets Manager ARN."
  }
}

variable "mqtt_url" {
  description = "Broker URL the API connects to (broker_service output internal_mqtt_url)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^mqtts?://[^/:]+(:[0-9]+)?$", var.mqtt_url))
    error_message = "mqtt_url must be mqtt://host:port or mqtts://host:port."
  }
}

variable "default_region" {
  description = "SMSGW_DEFAULT_REGION: ISO 3166-1 alpha-2 country for numbers written in national form; null accepts only international numbers."
  type        = string
  default     = null

  validation {
    condition     = var.default_region == null || can(regex("^[A-Z]{2}$", var.default_region))
    error_message = "default_region must be two upper-case letters, e.g. FR."
  }
}

variable "log_retention_days" {
  description = "Days to keep the API's logs in CloudWatch Logs."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (… 30, 60, 90, 180, 365, 400 …)."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the log group and of the secrets (the execution role may decrypt with it)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "tags" {
  description = "Tags for every resource (naming module: tags)."
  type        = map(string)
  default     = {}
  nullable    = false
  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "Tag keys must be 1 to 128 characters and not start with \"aws:\"; values at most 256 characters."
  }
}

variable "runtime_role" {
  description = "PostgreSQL role the API serves as, with DML on its tables only (deploy/postgres/runtime-role.sql); the migrate container creates it and grants it, its secret's rotation adds <role>_clone."
  type        = string
  default     = "smsgw_api"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,56}$", var.runtime_role))
    error_message = "runtime_role must be 1 to 57 characters of a-z, 0-9 and _, starting with a letter (the rotation appends _clone)."
  }
}

variable "database_rotation_days" {
  description = "Days between two rotations of the runtime role's password (Secrets Manager, alternating users)."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.database_rotation_days >= 1 && var.database_rotation_days <= 365
    error_message = "database_rotation_days must be between 1 and 365."
  }
}

variable "database_rotation_function_version" {
  description = "Version of AWS's SecretsManagerRDSPostgreSQLRotationMultiUser application (Serverless Application Repository) to deploy; null takes the latest."
  type        = string
  default     = null

  validation {
    condition     = var.database_rotation_function_version == null || can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.database_rotation_function_version))
    error_message = "database_rotation_function_version must be a semantic version (1.2.3) or null."
  }
}

variable "credentials_image" {
  description = "Image of the sidecar that copies the runtime role's secret to the API's credentials file: an AWS CLI v2 image, pinned."
  type        = string
  default     = "public.ecr.aws/aws-cli/aws-cli:2.27.50"
  nullable    = false

  validation {
    condition     = length(var.credentials_image) > 0 && !endswith(var.credentials_image, ":latest")
    error_message = "credentials_image must be set and pinned to a tag or digest other than :latest."
  }
}

variable "database_secret_refresh_seconds" {
  description = "How often the sidecar reads the runtime role's secret again (the previous credentials stay valid until the next rotation, so this only bounds how long a task keeps them)."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.database_secret_refresh_seconds >= 5 && var.database_secret_refresh_seconds <= 3600
    error_message = "database_secret_refresh_seconds must be between 5 and 3600."
  }
}
