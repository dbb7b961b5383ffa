"""What goes into a prompt: the cursor window, the extra context sources (recent edits, similar
snippets, workspace definitions), the budgeted prompt builder, and the service that freezes and
refreshes each document's context. Owns ``ContextSettings``."""
