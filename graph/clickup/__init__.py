"""The ClickUp part of the graph: how ClickUp objects become nodes and relationships, and the writer."""
