import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


import random

random.seed(12)
np.seterr(all="ignore")
for alpha in [0.01, 0.3, 4]:
    ends = []
    for _ in range(100):
        x = random.randint(-5, 20)          # random starting point in [-5, 20]
        for _ in range(1000):
            x = x - alpha * fprime(x)
        ends.append(x)
    ends = np.array(ends)
    print(alpha, (abs(ends) < .5).sum(), (abs(ends - 10) < .5).sum())
