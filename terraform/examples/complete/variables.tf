variable "region" {
  description = "AWS region to deploy to, e.g. eu-west-3."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-3."
  }
}

variable "environment" {
  description = "Environment name (2 to 10 characters of a-z and 0-9), e.g. prod."
  type        = string
  default     = "prod"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2 to 10 characters of a-z and 0-9, starting with a letter."
  }
}

variable "availability_zones" {
  description = "Two or three availability zones of the region, named explicitly so that a zone AWS adds later never moves a subnet."
  type        = list(string)
  nullable    = false

  validation {
    condition     = contains([2, 3], length(var.availability_zones)) && alltrue([for z in var.availability_zones : startswith(z, var.region)])
    error_message = "availability_zones must list 2 or 3 zones of var.region, e.g. [\"eu-west-3a\", \"eu-west-3b\"]."
  }
}

variable "vpc_cidr" {
  description = "IPv4 range of the VPC (/16 to /20)."
  type        = string
  default     = "10.40.0.0/16"
  nullable    = false

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be an IPv4 CIDR block."
  }
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone that holds api_domain and mqtt_domain (certificates are validated and records created in it)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^Z[A-Z0-9]{1,31}$", var.route53_zone_id))
    error_message = "route53_zone_id must be a hosted zone id (Z…)."
  }
}

variable "api_domain" {
  description = "Public host name of the HTTP API, e.g. sms.example.com."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.api_domain))
    error_message = "api_domain must be a lower-case DNS name."
  }
}

variable "mqtt_domain" {
  description = "Public host name the branch agents connect to, e.g. mqtt.example.com."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.mqtt_domain))
    error_message = "mqtt_domain must be a lower-case DNS name."
  }
}

variable "api_image" {
  description = "smsgw-api image (deploy/docker/api.Dockerfile), pinned by tag or digest."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.api_image) > 0 && !endswith(var.api_image, ":latest")
    error_message = "api_image must be pinned to a tag or digest other than :latest."
  }
}

variable "broker_image" {
  description = "smsgw-broker image (deploy/docker/broker.Dockerfile), pinned by tag or digest."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.broker_image) > 0 && !endswith(var.broker_image, ":latest")
    error_message = "broker_image must be pinned to a tag or digest other than :latest."
  }
}

variable "sites" {
  description = "Branch site ids, for the rendered topic ACL (sites themselves are registered with `smsgw-api sites create`)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for s in var.sites : can(regex("^[a-z0-9]{1,32}$", s))])
    error_message = "Every site id must be 1 to 32 characters of a-z and 0-9."
  }
}

variable "default_region" {
  description = "Country (ISO 3166-1 alpha-2) for phone numbers written in national form; null accepts only +… numbers."
  type        = string
  default     = null

  validation {
    condition     = var.default_region == null || can(regex("^[A-Z]{2}$", var.default_region))
    error_message = "default_region must be two upper-case letters, e.g. FR."
  }
}

variable "db_multi_az" {
  description = "Run the database with a synchronous standby in a second zone."
  type        = bool
  default     = true
  nullable    = false
}

variable "db_instance_class" {
  description = "RDS instance class of the database."
  type        = string
  default     = "db.t4g.medium"
  nullable    = false

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.db_instance_class))
    error_message = "db_instance_class must look like db.<family>.<size>."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per zone (cheaper, not zone-redundant)."
  type        = bool
  default     = false
  nullable    = false
}

variable "deletion_protection" {
  description = "Protect the database and the load balancers from deletion (turn off only to tear down a test stack)."
  type        = bool
  default     = true
  nullable    = false
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
  nullable    = false
  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "Tag keys must be 1 to 128 characters and not start with \"aws:\"; values at most 256 characters."
  }
}
