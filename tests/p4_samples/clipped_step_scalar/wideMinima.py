import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


np.random.seed(8)
for alpha in [0.01, 0.3, 4]:
    ends = []
    for _ in range(20):
        x = np.random.uniform(-5, 20)
        for _ in range(1000):
            g = np.clip(fprime(x), -50, 50)  # avoid overflow
            x = x - alpha * g
        ends.append(x)
    print(alpha, np.round(ends, 2))
