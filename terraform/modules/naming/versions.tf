terraform {
  # No provider: this module is pure logic, so `terraform test` runs it offline.
  required_version = ">= 1.9.0"
}
