"""Read models for the views and the report: what a figure or table shows, read from the store."""
