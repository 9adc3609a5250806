"""Anomaly-detection methods behind one protocol (``base.Method``); ``base.METHODS`` registers them."""
from seqcore.models.base import METHODS, Method, Prediction, load_method, method_class
from seqcore.models.evaluation import calibrate, predict_many

__all__ = ["METHODS", "Method", "Prediction", "calibrate", "load_method", "method_class", "predict_many"]
