import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


np.random.seed(24)
np.seterr(all="ignore")
# alpha = 0.01: random starts
for _ in range(20):
    x = np.random.uniform(-5, 20)
    for _ in range(1000):
        x = x - 0.01 * fprime(x)
    print(0.01, x)

# alpha = 0.3 and 4: from x0 = 1 (in the sharp valley) to show the effect
for alpha in [0.3, 4]:
    x = 1.0
    for _ in range(1000):
        x = x - alpha * fprime(x)
    print(alpha, x)
