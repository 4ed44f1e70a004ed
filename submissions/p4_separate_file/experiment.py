import numpy as np
from wideMinima import f, fprime

np.seterr(all="ignore")
np.random.seed(8)
for lr in [0.01, 0.3, 4]:
    ends = []
    for _ in range(15):
        x = np.random.uniform(-5, 20)
        for _ in range(1000):
            x -= lr * fprime(x)
        ends.append(x)
    print(lr, np.round(ends, 2))
