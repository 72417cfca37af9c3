"""Local fakes of mail providers' HTTP APIs for integration tests."""
