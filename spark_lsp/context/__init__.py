"""What goes into a prompt: the cursor window now; workspace context comes later."""
