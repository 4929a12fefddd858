# Exported with File > Download > .py instead of .ipynb
print('hello')
