"""The promoter: moves jobs due soon from the MongoDB backlog into the queue Redis."""
