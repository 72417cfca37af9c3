"""The conversations inbox: a team inbox's mail as conversations the team works (issue 16)."""
