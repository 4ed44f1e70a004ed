import time

import numpy as np


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


np.random.seed(1)
for alpha in [0.01, 0.3, 4]:
    for trial in range(10):
        x = np.random.uniform(-5, 20)
        for k in range(1000):
            x = x - alpha * fprime(x)
            if alpha == 0.3:
                time.sleep(0.05)  # the slow part: α = 0.3 never finishes within the limit
        print(alpha, x)
