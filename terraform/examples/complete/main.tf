# A complete smsgw cloud side: VPC, PostgreSQL, the API behind HTTPS and the broker behind
# MQTT over TLS, with one KMS key for logs, secrets and the database. See ../../README.md.

module "naming" {
  source = "../../modules/naming"

  environment = var.environment
  vpc_cidr    = var.vpc_cidr
  az_count    = length(var.availability_zones)
  sites       = var.sites
  tags        = var.tags
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# --- Encryption key ----------------------------------------------------------------------

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_356:A key policy always names its own key as "*".
  #checkov:skip=CKV_AWS_111:A key policy always names its own key as "*"; write access is the account's, delegated through IAM.
  #checkov:skip=CKV_AWS_109:A key policy always names its own key as "*"; administration stays with the account root as AWS recommends.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:/${module.naming.names.db_name}/${var.environment}/*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "smsgw ${var.environment}: logs, secrets, database"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "this" {
  name          = module.naming.names.kms_alias
  target_key_id = aws_kms_key.this.key_id
}

# --- Network -----------------------------------------------------------------------------

module "network" {
  source = "../../modules/network"

  name                = module.naming.names.vpc
  cidr                = var.vpc_cidr
  availability_zones  = var.availability_zones
  public_subnets      = module.naming.subnets.public
  private_subnets     = module.naming.subnets.private
  database_subnets    = module.naming.subnets.database
  single_nat_gateway  = var.single_nat_gateway
  flow_log_group_name = module.naming.names.flow_log_group
  flow_log_role_name  = module.naming.names.flow_log_role
  kms_key_arn         = aws_kms_key.this.arn
  tags                = module.naming.tags
}

# --- Shared secrets ----------------------------------------------------------------------
# Terraform creates the secrets, never their values (which would land in its state). Put
# them once after the first apply (terraform/README.md, "Secrets"):
#   aws secretsmanager put-secret-value --secret-id <name> --secret-string "$(openssl rand -base64 48)"

resource "aws_secretsmanager_secret" "jwt" {
  #checkov:skip=CKV2_AWS_57:Rotating this key invalidates every agent's broker credential at once; it is rotated by hand together with re-issuing them (terraform/README.md).
  name                    = module.naming.names.jwt_secret
  description             = "SMSGW_JWT_SECRET: HS256 key of admin sessions and MQTT credentials, shared by the API and the broker"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret" "key_pepper" {
  #checkov:skip=CKV2_AWS_57:Rotating the pepper invalidates every API key (they are stored as HMAC(pepper, key)); it is never rotated automatically.
  name                    = module.naming.names.key_pepper_secret
  description             = "SMSGW_KEY_PEPPER: HMAC key under which API keys are stored"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 30
}

# --- Compute -----------------------------------------------------------------------------

resource "aws_ecs_cluster" "this" {
  name = module.naming.names.ecs_cluster

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

module "database" {
  source = "../../modules/database"

  identifier           = module.naming.names.db_instance
  db_name              = module.naming.names.db_name
  username             = module.naming.names.db_username
  instance_class       = var.db_instance_class
  multi_az             = var.db_multi_az
  deletion_protection  = var.deletion_protection
  monitoring_role_name = module.naming.names.rds_monitoring_role
  vpc_id               = module.network.vpc_id
  subnet_ids           = module.network.database_subnet_ids
  kms_key_arn          = aws_kms_key.this.arn
  tags                 = module.naming.tags
}

module "broker" {
  source = "../../modules/broker_service"

  names                 = module.naming.names
  cluster_arn           = aws_ecs_cluster.this.arn
  vpc_id                = module.network.vpc_id
  public_subnet_ids     = module.network.public_subnet_ids
  private_subnet_ids    = module.network.private_subnet_ids
  image                 = var.broker_image
  domain_name           = var.mqtt_domain
  route53_zone_id       = var.route53_zone_id
  api_security_group_id = module.api.tasks_security_group_id
  jwt_secret_arn        = aws_secretsmanager_secret.jwt.arn
  internal_domain       = "${var.environment}.${module.naming.names.db_name}.internal"
  deletion_protection   = var.deletion_protection
  kms_key_arn           = aws_kms_key.this.arn
  tags                  = module.naming.tags
}

module "api" {
  source = "../../modules/api_service"

  names              = module.naming.names
  cluster_arn        = aws_ecs_cluster.this.arn
  vpc_id             = module.network.vpc_id
  public_subnet_ids  = module.network.public_subnet_ids
  private_subnet_ids = module.network.private_subnet_ids
  image              = var.api_image
  domain_name        = var.api_domain
  route53_zone_id    = var.route53_zone_id
  default_region     = var.default_region
  database = {
    address                = module.database.address
    port                   = module.database.port
    db_name                = module.database.db_name
    username               = module.database.username
    master_user_secret_arn = module.database.master_user_secret_arn
    security_group_id      = module.database.security_group_id
  }
  key_pepper_secret_arn = aws_secretsmanager_secret.key_pepper.arn
  jwt_secret_arn        = aws_secretsmanager_secret.jwt.arn
  mqtt_url              = module.broker.internal_mqtt_url
  deletion_protection   = var.deletion_protection
  kms_key_arn           = aws_kms_key.this.arn
  tags                  = module.naming.tags
}
