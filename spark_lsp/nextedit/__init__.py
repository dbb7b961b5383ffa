"""Next-edit suggestions: predicting the edit that follows the user's last one."""
