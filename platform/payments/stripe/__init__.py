"""The seam to Stripe: `api` is the only module that imports the `stripe` SDK."""
