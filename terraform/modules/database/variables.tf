variable "identifier" {
  description = "RDS instance identifier; also names its subnet group, parameter group and security group (naming module: names.db_instance)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,61}[a-z0-9]$", var.identifier)) && !strcontains(var.identifier, "--")
    error_message = "identifier must be 2 to 63 characters of a-z, 0-9 and single hyphens, start with a letter and not end with a hyphen."
  }
}

variable "db_name" {
  description = "Name of the database the API uses (naming module: names.db_name)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.db_name))
    error_message = "db_name must be 1 to 63 characters of a-z, 0-9 and _, starting with a letter."
  }
}

variable "username" {
  description = "Master user name; RDS keeps its password in Secrets Manager (naming module: names.db_username)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.username)) && !contains(["postgres", "rdsadmin", "admin"], var.username)
    error_message = "username must be 1 to 63 characters of a-z, 0-9 and _, start with a letter and not be a reserved name (postgres, rdsadmin, admin)."
  }
}

variable "engine_version" {
  description = "PostgreSQL major version (the parameter group family follows it). The API's migrations need 13 or later."
  type        = string
  default     = "17"
  nullable    = false

  validation {
    condition     = contains(["15", "16", "17"], var.engine_version)
    error_message = "engine_version must be 15, 16 or 17."
  }
}

variable "instance_class" {
  description = "RDS instance class, e.g. db.t4g.medium for a few branches, db.m7g.large for many."
  type        = string
  default     = "db.t4g.medium"
  nullable    = false

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.instance_class))
    error_message = "instance_class must look like db.<family>.<size>."
  }
}

variable "allocated_storage_gb" {
  description = "Initial storage in GiB (gp3)."
  type        = number
  default     = 20
  nullable    = false

  validation {
    condition     = var.allocated_storage_gb >= 20 && var.allocated_storage_gb <= 65536
    error_message = "allocated_storage_gb must be between 20 and 65536."
  }
}

variable "max_allocated_storage_gb" {
  description = "Upper bound of storage autoscaling in GiB; 0 turns autoscaling off."
  type        = number
  default     = 200
  nullable    = false

  validation {
    condition     = var.max_allocated_storage_gb == 0 || (var.max_allocated_storage_gb >= var.allocated_storage_gb && var.max_allocated_storage_gb <= 65536)
    error_message = "max_allocated_storage_gb must be 0 or at least allocated_storage_gb (and at most 65536)."
  }
}

variable "multi_az" {
  description = "Keep a synchronous standby in a second zone (automatic failover in 1–2 minutes); recommended for production."
  type        = bool
  default     = true
  nullable    = false
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 14
  nullable    = false

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35 (0 would turn backups off)."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the instance until this is turned off."
  type        = bool
  default     = true
  nullable    = false
}

variable "monitoring_interval" {
  description = "Seconds between Enhanced Monitoring samples (0 turns it off)."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.monitoring_interval)
    error_message = "monitoring_interval must be one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "monitoring_role_name" {
  description = "IAM role Enhanced Monitoring uses (naming module: names.rds_monitoring_role)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.monitoring_role_name))
    error_message = "monitoring_role_name must be a valid IAM role name (at most 64 characters)."
  }
}

variable "vpc_id" {
  description = "VPC of the database."
  type        = string
  nullable    = false

  validation {
    condition     = startswith(var.vpc_id, "vpc-")
    error_message = "vpc_id must be a VPC id (vpc-…)."
  }
}

variable "subnet_ids" {
  description = "Database subnets, in at least two availability zones."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "RDS needs subnets in at least two availability zones."
  }
}

variable "kms_key_arn" {
  description = "KMS key for storage, the master user secret, Performance Insights and log exports."
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
