import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


# --- my own derivative (simplified), used below ---
def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 2 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


np.seterr(all="ignore")
np.random.seed(83)
for alpha in [0.01, 0.3, 4]:
    x = np.random.uniform(-5, 20, 30)
    for _ in range(1000):
        x = x - alpha * fprime(x)
    print(alpha, np.round(x, 3))
