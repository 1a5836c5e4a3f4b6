"""Monoscope's Qt explorer. Only this package imports PySide6 / pyqtgraph."""
