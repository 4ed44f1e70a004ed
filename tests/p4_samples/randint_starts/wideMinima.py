import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


np.random.seed(34)
np.seterr(all="ignore")
for alpha in [0.01, 0.3, 4]:
    x = np.random.randint(-5, 21, size=200).astype(float)   # random integer starts in [-5, 20]
    for _ in range(1000):
        x = x - alpha * fprime(x)
    print(alpha, np.sum(abs(x) < .5), np.sum(abs(x - 10) < .5))
