variable "name" {
  description = "Name of the VPC and stem of its parts' Name tags (naming module: names.vpc)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,62}$", var.name))
    error_message = "name must be 2 to 63 characters of a-z, 0-9 and hyphens, starting with a letter."
  }
}

variable "cidr" {
  description = "IPv4 range of the VPC (naming module: vpc_cidr)."
  type        = string
  nullable    = false

  validation {
    condition     = can(cidrhost(var.cidr, 0))
    error_message = "cidr must be an IPv4 CIDR block."
  }
}

variable "availability_zones" {
  description = "Availability zones, one per subnet of each tier (e.g. [\"eu-west-3a\", \"eu-west-3b\"])."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.availability_zones) >= 2 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "At least two distinct availability zones are needed (ALB, RDS Multi-AZ)."
  }
}

variable "public_subnets" {
  description = "CIDR blocks of the public subnets (load balancers, NAT gateways), one per availability zone."
  type        = list(string)
  nullable    = false

  validation {
    condition     = alltrue([for c in var.public_subnets : can(cidrhost(c, 0))])
    error_message = "public_subnets must be IPv4 CIDR blocks."
  }
}

variable "private_subnets" {
  description = "CIDR blocks of the private subnets (ECS tasks), one per availability zone."
  type        = list(string)
  nullable    = false

  validation {
    condition     = alltrue([for c in var.private_subnets : can(cidrhost(c, 0))])
    error_message = "private_subnets must be IPv4 CIDR blocks."
  }
}

variable "database_subnets" {
  description = "CIDR blocks of the database subnets (RDS, no route to the internet), one per availability zone."
  type        = list(string)
  nullable    = false

  validation {
    condition     = alltrue([for c in var.database_subnets : can(cidrhost(c, 0))])
    error_message = "database_subnets must be IPv4 CIDR blocks."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper) instead of one per zone (survives the loss of a zone)."
  type        = bool
  default     = false
  nullable    = false
}

variable "flow_log_retention_days" {
  description = "Days to keep VPC flow logs in CloudWatch Logs."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, … 365, 400, 545, 731 …)."
  }
}

variable "flow_log_group_name" {
  description = "CloudWatch Logs group of the VPC flow logs (naming module: names.flow_log_group)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_/.#-]{1,512}$", var.flow_log_group_name))
    error_message = "flow_log_group_name must be a valid CloudWatch Logs group name."
  }
}

variable "flow_log_role_name" {
  description = "IAM role that VPC Flow Logs assumes to write to CloudWatch Logs (naming module: names.flow_log_role)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.flow_log_role_name))
    error_message = "flow_log_role_name must be a valid IAM role name (at most 64 characters)."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the flow log group (its policy must allow the CloudWatch Logs service)."
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
