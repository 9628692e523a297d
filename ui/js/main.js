// Entry point of the Slipway UI.
