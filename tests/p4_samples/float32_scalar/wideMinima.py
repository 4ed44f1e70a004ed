# GD in float32: every update rounds at float32 precision (grader: chains matched within it).
import numpy as np

def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))

def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)

np.seterr(all="ignore")
np.random.seed(0)  # one draw, so the test grades the same hand-in every time (docs/p4.md, Limits: step counts)
for alpha in [0.01, 0.3, 4]:
    wide = 0
    for i in range(20):
        x = np.float32(np.random.uniform(-5, 20))
        for _ in range(1000):
            x = x - np.float32(alpha) * fprime(x)
        wide += abs(x - 10) < 0.5
    print(alpha, wide)
