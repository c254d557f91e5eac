"""What the practice and its operator watch: the admin's stats, the service objectives, the
booking funnel, alerts and the monitoring page. Each domain computes its own figures; this
package gathers them, and counts what only the API sees (holdfast.monitoring.traffic)."""
