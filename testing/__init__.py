"""What every app's tests share: the test settings and the scaffolding (factories, personas,
clients of each server)."""
