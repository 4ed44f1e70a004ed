# Scalar runs one after another from an evenly spaced grid of starts: consecutive starts must never pair into a run.
import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


starts = np.linspace(-5, 20, 26)

np.seterr(all="ignore")
for alpha in [0.01, 0.3, 4]:
    out = []
    for x0 in starts:
        x = x0
        for _ in range(1000):
            x = x - alpha * fprime(x)
        out.append(x)
    print(alpha, np.round(out, 3))
