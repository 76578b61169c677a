"""One function per user action: read inputs, call the science, write outputs, return a result."""
