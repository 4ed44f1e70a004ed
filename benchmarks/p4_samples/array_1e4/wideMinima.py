# Benchmark input (issue 9): 10^4 array fprime calls of 10^3 elements each (vectorized GD).
import numpy as np


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


np.seterr(all="ignore")
x = np.random.default_rng(0).uniform(-5, 20, size=1000)
for k in range(10_000):
    x = x - 0.01 * fprime(x)
print(np.sum(np.abs(x) < 0.5), np.sum(np.abs(x - 10) < 0.5))
