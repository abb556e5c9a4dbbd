"""The Xoxzo REST API as the sandbox serves it under /sandbox/."""

urlpatterns: list = []
