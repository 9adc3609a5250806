"""Export of a fitted model for the C++ inspector (docs/design.md §15): ONNX extractor + model file."""
from seqcore.export.onnx_export import EXPORT_FILES, OPSET, export_model, extractor_graph

__all__ = ["EXPORT_FILES", "OPSET", "export_model", "extractor_graph"]
