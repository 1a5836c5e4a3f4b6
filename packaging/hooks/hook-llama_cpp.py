"""PyInstaller hook: llama-cpp-python loads libllama/libggml* with ctypes from llama_cpp/lib."""

from PyInstaller.utils.hooks import collect_dynamic_libs, copy_metadata

# ctypes loading is invisible to PyInstaller's analysis: collect the folder as it is, so the
# libraries keep their relative layout (libllama finds libggml* next to it via $ORIGIN).
binaries = collect_dynamic_libs("llama_cpp", search_patterns=["lib/*.so", "lib/*.so.*", "lib/*.dylib", "lib/*.dll"])
datas = copy_metadata("llama_cpp_python")
