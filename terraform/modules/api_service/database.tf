# The API's own database role and its rotating password.
#
# The tasks serve as var.runtime_role, which holds only DML on the API's tables
# (deploy/postgres/runtime-role.sql). Each task first runs `smsgw-api migrate
# --runtime-role` as the master user (the "migrate" container, which exits), so migrations
# and grants need no one-off task. The runtime role's credentials live in a secret that
# Secrets Manager rotates with AWS's alternating-users function for PostgreSQL (its
# MultiUser variant: the role and a `_clone` of it take turns, so the previous credentials
# keep working until the next rotation and a task that is a little behind fails nothing).
# A sidecar copies the secret, as it is (JSON with username and password), to a file on a
# volume the API reads it from; the API reads that file every second and opens new
# connections with what it holds (SMSGW_DATABASE_PASSWORD_FILE, api/src/database.rs).
#
# Terraform never holds the password: after the first apply, put the secret's first value
# (output database_secret_template, password left empty: the role has none yet) and start
# a rotation, which creates the clone with a real password (README "Database roles").

locals {
  # From the log group's ARN: the module's region without a data source whose attributes
  # differ between provider versions.
  region         = split(":", aws_cloudwatch_log_group.this.arn)[3]
  secrets_volume = "database-credentials"
  secrets_dir    = "/run/smsgw"
  password_file  = "${local.secrets_dir}/database.json"
  # The alternating-users rotation function for PostgreSQL, published by AWS in the
  # Serverless Application Repository.
  rotation_application = "arn:${data.aws_partition.current.partition}:serverlessrepo:us-east-1:297356227824:applications/SecretsManagerRDSPostgreSQLRotationMultiUser"
}

resource "aws_secretsmanager_secret" "database" {
  name                    = "${var.names.api_service}-database-runtime"
  description             = "Credentials of ${var.runtime_role}, the role smsgw-api serves as (rotated; JSON with username and password)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_rotation" "database" {
  secret_id           = aws_secretsmanager_secret.database.id
  rotation_lambda_arn = aws_serverlessapplicationrepository_cloudformation_stack.rotation.outputs["RotationLambdaARN"]
  # The secret has no value until it is put after the first apply: rotate then.
  rotate_immediately = false

  rotation_rules {
    automatically_after_days = var.database_rotation_days
  }
}

resource "aws_serverlessapplicationrepository_cloudformation_stack" "rotation" {
  name             = "${var.names.api_service}-database-rotation"
  application_id   = local.rotation_application
  semantic_version = var.database_rotation_function_version
  capabilities     = ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]

  parameters = {
    functionName          = "${var.names.api_service}-database-rotation"
    endpoint              = "https://secretsmanager.${local.region}.${data.aws_partition.current.dns_suffix}"
    vpcSubnetIds          = join(",", var.private_subnet_ids)
    vpcSecurityGroupIds   = aws_security_group.rotation.id
    masterSecretArn       = var.database.master_user_secret_arn
    masterSecretKmsKeyArn = var.kms_key_arn
    kmsKeyArn             = var.kms_key_arn
  }

  tags = var.tags
}

# --- The rotation function's network -------------------------------------------------------

resource "aws_security_group" "rotation" {
  #checkov:skip=CKV2_AWS_5:Attached to the rotation function through the vpcSecurityGroupIds parameter of its Serverless Application Repository stack, which checkov cannot follow.
  name        = "${var.names.api_service}-database-rotation"
  description = "Secrets Manager rotation function of the smsgw API database role"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.names.api_service}-database-rotation" })
}

resource "aws_vpc_security_group_egress_rule" "rotation_to_database" {
  security_group_id            = aws_security_group.rotation.id
  description                  = "PostgreSQL, to change the role's password"
  referenced_security_group_id = var.database.security_group_id
  from_port                    = var.database.port
  to_port                      = var.database.port
  ip_protocol                  = "tcp"
}

#trivy:ignore:AVD-AWS-0104 The rotation function calls the Secrets Manager API on HTTPS through NAT.
resource "aws_vpc_security_group_egress_rule" "rotation_https" {
  security_group_id = aws_security_group.rotation.id
  description       = "HTTPS to Secrets Manager"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "database_from_rotation" {
  security_group_id            = var.database.security_group_id
  description                  = "PostgreSQL from the smsgw API database rotation function"
  referenced_security_group_id = aws_security_group.rotation.id
  from_port                    = var.database.port
  to_port                      = var.database.port
  ip_protocol                  = "tcp"
}

# --- The tasks' access to the secret -------------------------------------------------------

# The credentials sidecar reads the secret with the task role; nothing else in the task
# calls an AWS API.
data "aws_iam_policy_document" "read_database_secret" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.database.arn]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "read_database_secret" {
  name   = "read-database-secret"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.read_database_secret.json
}

locals {
  # The sidecar: the secret's value to the shared volume every minute, replaced at once
  # (a rename) and readable by the API's user only. A failed read keeps the last file.
  credentials_script = <<-EOT
    set -u
    umask 077
    while :; do
      if aws secretsmanager get-secret-value --secret-id "$SECRET_ID" --query SecretString --output text >${local.secrets_dir}/.next \
        && [ -s ${local.secrets_dir}/.next ]; then
        chown 10001:10001 ${local.secrets_dir}/.next && mv -f ${local.secrets_dir}/.next ${local.password_file}
      else
        echo "cannot read the database secret; the API keeps the last credentials" >&2
      fi
      sleep ${var.database_secret_refresh_seconds}
    done
  EOT

  migrate_container = {
    name                   = "migrate"
    image                  = var.image
    essential              = false
    command                = ["migrate"]
    readonlyRootFilesystem = true
    user                   = "10001:10001"
    environment = [
      { name = "SMSGW_LOG_FORMAT", value = "json" },
      # The master user owns the schema; PGPASSWORD is read when the URL has none.
      { name = "DATABASE_URL", value = "postgres://${var.database.username}@${var.database.address}:${var.database.port}/${var.database.db_name}?sslmode=require" },
      { name = "SMSGW_DATABASE_RUNTIME_ROLE", value = var.runtime_role },
    ]
    secrets = [
      { name = "PGPASSWORD", valueFrom = "${var.database.master_user_secret_arn}:password::" },
    ]
    logConfiguration = local.log_configuration
  }

  credentials_container = {
    name                   = "database-credentials"
    image                  = var.credentials_image
    essential              = true
    entryPoint             = ["/bin/sh", "-c"]
    command                = [local.credentials_script]
    readonlyRootFilesystem = true
    # Root inside its container, with no capability but CHOWN: the volume is root's, and
    # the file it writes must belong to the API's user.
    user = "0:0"
    linuxParameters = {
      capabilities = { drop = ["ALL"], add = ["CHOWN"] }
    }
    environment = [
      { name = "SECRET_ID", value = aws_secretsmanager_secret.database.arn },
      { name = "AWS_REGION", value = local.region },
      { name = "HOME", value = "/tmp" },
    ]
    mountPoints = [
      { sourceVolume = local.secrets_volume, containerPath = local.secrets_dir, readOnly = false },
      { sourceVolume = "credentials-tmp", containerPath = "/tmp", readOnly = false },
    ]
    healthCheck = {
      command     = ["CMD-SHELL", "test -s ${local.password_file}"]
      interval    = 5
      timeout     = 2
      retries     = 24
      startPeriod = 5
    }
    logConfiguration = local.log_configuration
  }
}
