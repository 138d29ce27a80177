variable "names" {
  description = "Resource names from the naming module (keys used: broker_service, nlb, broker_target_group, broker_log_group, broker_task_role, broker_execution_role)."
  type        = map(string)
  nullable    = false

  validation {
    condition     = alltrue([for k in ["broker_service", "nlb", "broker_target_group", "broker_log_group", "broker_task_role", "broker_execution_role"] : contains(keys(var.names), k)])
    error_message = "names must come from the naming module (broker_service, nlb, broker_target_group, broker_log_group, broker_task_role, broker_execution_role)."
  }

  validation {
    condition     = length(lookup(var.names, "nlb", "")) <= 32 && length(lookup(var.names, "broker_target_group", "")) <= 32
    error_message = "Load balancer and target group names are limited to 32 characters."
  }
}

variable "cluster_arn" {
  description = "ECS cluster the broker runs in."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN."
  }
}

variable "vpc_id" {
  description = "VPC of the broker."
  type        = string
  nullable    = false

  validation {
    condition     = startswith(var.vpc_id, "vpc-")
    error_message = "vpc_id must be a VPC id (vpc-…)."
  }
}

variable "public_subnet_ids" {
  description = "Subnets of the Network Load Balancer."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.public_subnet_ids) >= 1
    error_message = "At least one public subnet is needed."
  }
}

variable "private_subnet_ids" {
  description = "Subnets the broker task may run in."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.private_subnet_ids) >= 1
    error_message = "At least one private subnet is needed."
  }
}

variable "image" {
  description = "Container image of smsgw-broker (built from deploy/docker/broker.Dockerfile), preferably pinned by digest."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.image) > 0 && !endswith(var.image, ":latest")
    error_message = "image must be set and pinned to a tag or digest other than :latest."
  }
}

variable "cpu" {
  description = "Fargate CPU units of the broker task."
  type        = number
  default     = 512
  nullable    = false

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.cpu)
    error_message = "cpu must be 256, 512, 1024, 2048 or 4096."
  }
}

variable "memory" {
  description = "Memory of the broker task in MiB; rumqttd keeps every queue in memory (about 512 KiB per site at the default limits, plus the API's event filter)."
  type        = number
  default     = 2048
  nullable    = false

  validation {
    condition     = var.memory >= 512 && var.memory <= 30720
    error_message = "memory must be between 512 and 30720 MiB."
  }
}

variable "domain_name" {
  description = "Host name the agents connect to, e.g. mqtt.example.com (their mqtt.url is mqtts://<domain_name>:8883)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lower-case DNS name."
  }
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone of domain_name: the module validates the ACM certificate and points the name at the NLB. Null when DNS lives elsewhere (then set certificate_arn)."
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
  description = "TLS policy of the 8883 listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  nullable    = false

  validation {
    condition     = startswith(var.ssl_policy, "ELBSecurityPolicy-TLS13-") || startswith(var.ssl_policy, "ELBSecurityPolicy-FS-1-2-")
    error_message = "ssl_policy must be a TLS 1.2+ policy (ELBSecurityPolicy-TLS13-… or ELBSecurityPolicy-FS-1-2-…)."
  }
}

variable "agent_cidrs" {
  description = "Networks the branch agents connect from; branches usually have no fixed address, hence the whole internet by default (every client still needs a valid JWT)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
  nullable    = false

  validation {
    condition     = length(var.agent_cidrs) > 0 && alltrue([for c in var.agent_cidrs : can(cidrhost(c, 0))])
    error_message = "agent_cidrs must be a non-empty list of IPv4 CIDR blocks."
  }
}

variable "mqtt_keep_alive_seconds" {
  description = "Largest MQTT keep-alive any client uses (the agent's mqtt.keep_alive_secs, default 30). A TLS listener of an NLB closes a connection idle for 350 s, a value AWS does not let us change, so the keep-alive must stay below it."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.mqtt_keep_alive_seconds >= 5 && var.mqtt_keep_alive_seconds < 350
    error_message = "mqtt_keep_alive_seconds must be at least 5 and below the NLB TLS idle timeout of 350 s, or idle agents are cut off between two pings."
  }
}

variable "api_security_group_id" {
  description = "Security group of the API tasks, admitted to the broker's plain listener inside the VPC."
  type        = string
  nullable    = false

  validation {
    condition     = startswith(var.api_security_group_id, "sg-")
    error_message = "api_security_group_id must be a security group id (sg-…)."
  }
}

variable "jwt_secret_arn" {
  description = "Secrets Manager secret holding SMSGW_JWT_SECRET, shared with the API."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.jwt_secret_arn))
    error_message = "jwt_secret_arn must be a Secrets Manager ARN."
  }
}

variable "internal_domain" {
  description = "Private DNS namespace (Cloud Map) in which the API finds the broker as broker.<internal_domain>."
  type        = string
  default     = "smsgw.internal"
  nullable    = false

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.internal_domain))
    error_message = "internal_domain must be a lower-case DNS name."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer until this is turned off."
  type        = bool
  default     = true
  nullable    = false
}

variable "access_logs_bucket" {
  description = "S3 bucket for NLB access logs of the TLS listener; null leaves them off."
  type        = string
  default     = null

  validation {
    condition     = var.access_logs_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_logs_bucket))
    error_message = "access_logs_bucket must be an S3 bucket name."
  }
}

variable "log_retention_days" {
  description = "Days to keep the broker's logs in CloudWatch Logs."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (… 30, 60, 90, 180, 365, 400 …)."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the log group and of the JWT secret."
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
