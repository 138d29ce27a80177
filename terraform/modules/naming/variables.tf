variable "project" {
  description = "Short project name, the first part of every resource name."
  type        = string
  default     = "smsgw"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.project))
    error_message = "project must be 2 to 12 characters of a-z and 0-9, starting with a letter."
  }
}

variable "environment" {
  description = "Deployment environment, e.g. prod or staging; the second part of every resource name."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2 to 10 characters of a-z and 0-9, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags for every resource. Project, Environment and ManagedBy are always set and cannot be overridden."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition = alltrue([
      for k, v in var.tags :
      length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")
    ])
    error_message = "Tag keys must be 1 to 128 characters and not start with \"aws:\"; values at most 256 characters."
  }
}

variable "vpc_cidr" {
  description = "IPv4 range of the VPC; a /16 to /20 that is split into public, private and database subnets."
  type        = string
  default     = "10.40.0.0/16"
  nullable    = false

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be an IPv4 CIDR block from /16 to /20."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread subnets over (2 or 3; RDS Multi-AZ and the ALB need at least 2)."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = contains([2, 3], var.az_count)
    error_message = "az_count must be 2 or 3."
  }
}

variable "topic_root" {
  description = "MQTT topic root shared by the API and the agents (smsgw-shared DEFAULT_ROOT is \"smsgw\"); may have several levels, e.g. acme/prod/smsgw."
  type        = string
  default     = "smsgw"
  nullable    = false

  validation {
    condition = alltrue(concat(
      [length(var.topic_root) > 0, !startswith(var.topic_root, "$")],
      [for level in split("/", var.topic_root) : length(level) > 0 && length(regexall("[+#]", level)) == 0],
    ))
    error_message = "topic_root must be non-empty, not start with $, and have no empty level and no + or # wildcard."
  }
}

variable "sites" {
  description = "Branch site ids (1 to 32 characters of a-z and 0-9, as `smsgw-api sites create` accepts) to render topic ACLs for."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for s in var.sites : can(regex("^[a-z0-9]{1,32}$", s))])
    error_message = "Every site id must be 1 to 32 characters of a-z and 0-9."
  }

  validation {
    condition     = length(distinct(var.sites)) == length(var.sites)
    error_message = "Site ids must be unique."
  }
}
