"""The model server: Open Inference Protocol (V2) and ``/predict`` over a model directory."""
