# Offline tests of the api_service module with a mocked AWS provider (`terraform init
# -plugin-dir=/opt/tf-plugins && terraform test` in modules/api_service; deploy/check.sh):
# the tasks serve as the least-privilege runtime role with a rotating password, and each
# one migrates as the master user first.

mock_provider "aws" {
  # The provider checks the ARNs it is handed, mocked or not.
  mock_resource "aws_lb" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-3:123456789012:loadbalancer/app/smsgw-prod-api/0123456789abcdef"
      arn_suffix = "app/smsgw-prod-api/0123456789abcdef"
    }
  }
  mock_resource "aws_lb_target_group" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-3:123456789012:targetgroup/smsgw-prod-api/0123456789abcdef"
      arn_suffix = "targetgroup/smsgw-prod-api/0123456789abcdef"
    }
  }
  mock_resource "aws_lb_listener" {
    defaults = {
      arn = "arn:aws:elasticloadbalancing:eu-west-3:123456789012:listener/app/smsgw-prod-api/0123456789abcdef/0123456789abcdef"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/smsgw-prod-api"
    }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = {
      arn = "arn:aws:ecs:eu-west-3:123456789012:task-definition/smsgw-prod-api:1"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-3:123456789012:log-group:/smsgw/prod/api"
    }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = {
      arn = "arn:aws:secretsmanager:eu-west-3:123456789012:secret:smsgw-prod-api-database-runtime-AbCdEf"
    }
  }
  mock_resource "aws_serverlessapplicationrepository_cloudformation_stack" {
    defaults = {
      outputs = {
        RotationLambdaARN = "arn:aws:lambda:eu-west-3:123456789012:function:smsgw-prod-api-database-rotation"
      }
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition  = "aws"
      dns_suffix = "amazonaws.com"
    }
  }
  mock_data "aws_vpc" {
    defaults = {
      cidr_block = "10.20.0.0/16"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  names = {
    api_service        = "smsgw-prod-api"
    alb                = "smsgw-prod-api"
    api_target_group   = "smsgw-prod-api"
    api_log_group      = "/smsgw/prod/api"
    api_task_role      = "smsgw-prod-api-task"
    api_execution_role = "smsgw-prod-api-exec"
  }
  cluster_arn        = "arn:aws:ecs:eu-west-3:123456789012:cluster/smsgw-prod"
  vpc_id             = "vpc-0123456789abcdef0"
  public_subnet_ids  = ["subnet-0a", "subnet-0b"]
  private_subnet_ids = ["subnet-1a", "subnet-1b"]
  image              = "123456789012.dkr.ecr.eu-west-3.amazonaws.com/smsgw-api:0.1.0"
  domain_name        = "sms.example.com"
  certificate_arn    = "arn:aws:acm:eu-west-3:123456789012:certificate/abc"
  database = {
    address                = "smsgw-prod-pg.abc.eu-west-3.rds.amazonaws.com"
    port                   = 5432
    db_name                = "smsgw"
    username               = "smsgw"
    master_user_secret_arn = "arn:aws:secretsmanager:eu-west-3:123456789012:secret:rds!db-1234"
    security_group_id      = "sg-0database"
  }
  key_pepper_secret_arn = "arn:aws:secretsmanager:eu-west-3:123456789012:secret:pepper"
  jwt_secret_arn        = "arn:aws:secretsmanager:eu-west-3:123456789012:secret:jwt"
  mqtt_url              = "mqtt://broker.prod.smsgw.internal:1883"
  kms_key_arn           = "arn:aws:kms:eu-west-3:123456789012:key/1234"
  deletion_protection   = false
}

run "the_api_serves_as_the_runtime_role_with_the_rotated_credentials_file" {
  command = apply

  assert {
    condition = (
      local.containers["api"].environment_map["DATABASE_URL"] == "postgres://smsgw_api@smsgw-prod-pg.abc.eu-west-3.rds.amazonaws.com:5432/smsgw?sslmode=require" &&
      local.containers["api"].environment_map["SMSGW_DATABASE_PASSWORD_FILE"] == "/run/smsgw/database.json" &&
      local.containers["api"].environment_map["SMSGW_NO_MIGRATE"] == "true"
    )
    error_message = "The API connects as smsgw_api, with the credentials file, and never migrates."
  }
  assert {
    condition     = !contains([for s in local.containers["api"].secrets : s.name], "PGPASSWORD")
    error_message = "The API container gets no master password."
  }
  assert {
    condition = (
      [for m in local.containers["api"].mountPoints : [m.containerPath, m.readOnly]] == [["/run/smsgw", true]] &&
      [for m in local.containers["database-credentials"].mountPoints : m.containerPath if !m.readOnly] == ["/run/smsgw", "/tmp"]
    )
    error_message = "The sidecar writes the credentials volume; the API only reads it."
  }
  assert {
    condition = toset([for d in local.containers["api"].dependsOn : "${d.containerName}:${d.condition}"]) == toset([
      "migrate:SUCCESS", "database-credentials:HEALTHY",
    ])
    error_message = "The API starts once the migrations succeeded and the credentials file exists."
  }
  assert {
    condition     = strcontains(local.containers["database-credentials"].command[0], "secretsmanager get-secret-value") && local.containers["database-credentials"].environment_map["SECRET_ID"] == aws_secretsmanager_secret.database.arn
    error_message = "The sidecar copies the runtime role's secret."
  }
}

run "each_task_migrates_as_the_master_user_and_grants_the_runtime_role" {
  command = apply

  assert {
    condition = (
      local.containers["migrate"].command == ["migrate"] &&
      !local.containers["migrate"].essential &&
      local.containers["migrate"].environment_map["SMSGW_DATABASE_RUNTIME_ROLE"] == "smsgw_api" &&
      startswith(local.containers["migrate"].environment_map["DATABASE_URL"], "postgres://smsgw@")
    )
    error_message = "The migrate container runs `migrate --runtime-role` as the master user and exits."
  }
  assert {
    condition     = [for s in local.containers["migrate"].secrets : s.valueFrom] == ["arn:aws:secretsmanager:eu-west-3:123456789012:secret:rds!db-1234:password::"]
    error_message = "Only the migrate container gets the master password."
  }
  assert {
    condition     = alltrue([for c in values(local.containers) : c.readonlyRootFilesystem])
    error_message = "Every container has a read-only root filesystem."
  }
}

run "the_secret_rotates_with_alternating_users" {
  command = apply

  variables {
    database_rotation_days = 14
  }

  assert {
    condition     = aws_secretsmanager_secret_rotation.database.rotation_rules[0].automatically_after_days == 14 && !aws_secretsmanager_secret_rotation.database.rotate_immediately
    error_message = "The secret rotates on schedule, not before its first value is put."
  }
  assert {
    condition     = aws_secretsmanager_secret_rotation.database.rotation_lambda_arn == "arn:aws:lambda:eu-west-3:123456789012:function:smsgw-prod-api-database-rotation"
    error_message = "The rotation uses the function of the stack."
  }
  assert {
    condition = (
      endswith(aws_serverlessapplicationrepository_cloudformation_stack.rotation.application_id, "applications/SecretsManagerRDSPostgreSQLRotationMultiUser") &&
      aws_serverlessapplicationrepository_cloudformation_stack.rotation.parameters["masterSecretArn"] == var.database.master_user_secret_arn &&
      aws_serverlessapplicationrepository_cloudformation_stack.rotation.parameters["endpoint"] == "https://secretsmanager.eu-west-3.amazonaws.com"
    )
    error_message = "AWS's alternating-users function for PostgreSQL rotates it, with the master secret."
  }
  assert {
    condition     = jsondecode(output.database_secret_template).username == "smsgw_api" && jsondecode(output.database_secret_template).password == ""
    error_message = "The first value names the runtime role and no password."
  }
}

run "a_role_name_that_cannot_take_a_clone_is_refused" {
  command = plan

  variables {
    runtime_role = "Smsgw-API"
  }

  expect_failures = [var.runtime_role]
}
