import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


# The bug: the step uses f(x), not its derivative (fprime is computed, then not used).
np.random.seed(3)
for lr in [0.01, 0.3, 4]:
    ends = []
    for trial in range(20):
        x = np.random.uniform(-5, 20)
        for it in range(1000):
            grad = fprime(x)
            x = x - lr * f(x)
        ends.append(x)
    print(lr, np.round(ends, 3))
