"""OpenBLAS cblas_sgemm called directly through ctypes (no PyTorch in between), row-major,
C = A*B with A M x K and B K x N, the shapes of kernels/gemm's BenchmarkSgemm.
Prints one line per shape: GFLOP/s of the median and of the fastest of CALLS calls after warm-up,
and at one thread of the median call by the thread's CPU time (time spent descheduled on a busy
machine does not count).
Run: OPENBLAS_CORETYPE=Haswell /usr/bin/python3 openblas_sgemm.py THREADS [CALLS]"""
import ctypes, sys, time
import numpy as np

th = int(sys.argv[1])
calls = int(sys.argv[2]) if len(sys.argv) > 2 else 40
lib = ctypes.CDLL("libopenblas.so.0")
lib.openblas_set_num_threads(th)
lib.openblas_get_corename.restype = ctypes.c_char_p
P = ctypes.POINTER(ctypes.c_float)
f = lib.cblas_sgemm
f.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, P, ctypes.c_int, P, ctypes.c_int, ctypes.c_float, P, ctypes.c_int]
shapes = [(256, 1152, 1024), (96, 16, 12544), (16, 32, 12544), (24, 96, 3136), (144, 24, 3136),
          (32, 144, 784), (192, 32, 784), (384, 64, 196), (64, 384, 196), (576, 96, 196),
          (960, 160, 49), (160, 960, 49), (1280, 320, 49)]
rng = np.random.default_rng(1)
for m, k, n in shapes:
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = np.zeros((m, n), dtype=np.float32)
    pa, pb, pc = (x.ctypes.data_as(P) for x in (a, b, c))
    run = lambda: f(101, 111, 111, m, n, k, 1.0, pa, k, pb, n, 0.0, pc, n)
    for _ in range(5):
        run()
    ts, cs = [], []
    for _ in range(calls):
        t, c = time.perf_counter(), time.thread_time()
        run()
        cs.append(time.thread_time() - c); ts.append(time.perf_counter() - t)
    ts.sort(); cs.sort()
    fl = 2 * m * k * n
    cpu = f"{fl / cs[len(cs) // 2] / 1e9:.1f}" if th == 1 and cs[len(cs) // 2] > 0 else "-"
    print(f"openblas {lib.openblas_get_corename().decode()} threads={th} {m}x{k}x{n} med {fl / ts[len(ts) // 2] / 1e9:.1f} best {fl / ts[0] / 1e9:.1f} cpu {cpu} GFLOP/s")
