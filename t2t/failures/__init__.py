"""Failure analysis: the taxonomy, plotly figures, the HTML report and the trajectory inspector."""
