"""Numbers: the measures (metrics), the measure stage that stores them, and the 2-D projections."""
